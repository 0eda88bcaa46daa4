-- A results database written by vbench 0.x with schema version 1 (before runs.modality/stain),
-- dumped with sqlite3 .dump: two runs (one completed with scores and summaries, one failed).
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE vbench_meta (
	"key" VARCHAR(64) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO vbench_meta VALUES('schema_version','1');
CREATE TABLE runs (
	id INTEGER NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	stainer VARCHAR(128) NOT NULL, 
	preset VARCHAR(64) NOT NULL, 
	params TEXT NOT NULL, 
	run_key VARCHAR(64) NOT NULL, 
	train_key VARCHAR(64), 
	trained_by INTEGER, 
	repeats INTEGER NOT NULL, 
	plugin_dist VARCHAR(128), 
	plugin_version VARCHAR(64), 
	vbench_version VARCHAR(32) NOT NULL, 
	git_commit VARCHAR(64), 
	dataset VARCHAR(128) NOT NULL, 
	manifest_hash VARCHAR(64), 
	dataset_note TEXT NOT NULL, 
	seed INTEGER NOT NULL, 
	suite VARCHAR(64), 
	external BOOLEAN NOT NULL, 
	device VARCHAR(64), 
	threads INTEGER, 
	hardware TEXT NOT NULL, 
	libraries TEXT NOT NULL, 
	started_at DATETIME NOT NULL, 
	ended_at DATETIME, 
	truncated BOOLEAN NOT NULL, 
	error TEXT, 
	artifacts TEXT, 
	train_seconds FLOAT, 
	train_steps INTEGER, 
	train_samples_per_s FLOAT, 
	infer_ms_p50 FLOAT, 
	infer_ms_p95 FLOAT, 
	tiles_per_s FLOAT, 
	peak_mem_mb FLOAT, 
	n_params INTEGER, 
	flops_per_tile FLOAT, 
	n_test_tiles INTEGER, 
	PRIMARY KEY (id)
);
INSERT INTO runs VALUES(1,'completed','baseline-linear','','{"x": 1}','k1',NULL,NULL,1,NULL,NULL,'0.1.0',NULL,'qpi-he','abababababababababababababababababababababababababababababababab','',0,NULL,0,'cpu',NULL,'{"cpu": "test"}','{}','2026-01-02 03:04:05.000000','2026-01-02 03:05:00.000000',0,NULL,NULL,1.5,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO runs VALUES(2,'failed','cyclegan','quick','{}','k2',NULL,NULL,1,NULL,NULL,'0.1.0',NULL,'qpi-he',NULL,'',1,NULL,0,NULL,NULL,'{}','{}','2026-01-02 04:00:00.000000','2026-01-02 04:01:00.000000',0,'Traceback: boom',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
CREATE TABLE scores (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	metric VARCHAR(64) NOT NULL, 
	tile VARCHAR(256) NOT NULL, 
	value FLOAT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);
INSERT INTO scores VALUES(1,1,'psnr','t0',18.5);
INSERT INTO scores VALUES(2,1,'psnr','t1',19.5);
INSERT INTO scores VALUES(3,1,'ssim','t0',0.59999999999999997779);
INSERT INTO scores VALUES(4,1,'ssim','t1',NULL);
CREATE TABLE summaries (
	run_id INTEGER NOT NULL, 
	metric VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	reason TEXT, 
	higher_is_better BOOLEAN NOT NULL, 
	pipeline TEXT NOT NULL, 
	n INTEGER NOT NULL, 
	mean FLOAT, 
	std FLOAT, 
	ci_low FLOAT, 
	ci_high FLOAT, 
	PRIMARY KEY (run_id, metric), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);
INSERT INTO summaries VALUES(1,'psnr','computed',NULL,1,'p',2,19.0,0.69999999999999995559,18.5,19.5);
INSERT INTO summaries VALUES(1,'ssim','computed',NULL,1,'q',1,0.59999999999999997779,NULL,NULL,NULL);
INSERT INTO summaries VALUES(1,'lpips','not computed','weights missing',1,'',0,NULL,NULL,NULL,NULL);
CREATE INDEX ix_runs_status ON runs (status);
CREATE INDEX ix_runs_run_key ON runs (run_key);
CREATE INDEX ix_runs_train_key ON runs (train_key);
CREATE INDEX ix_runs_dataset ON runs (dataset);
CREATE INDEX ix_scores_run_metric ON scores (run_id, metric);
COMMIT;
