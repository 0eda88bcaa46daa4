"""Hook specifications: the public plugin contract, and its reference.

A plugin is any module with ``@vbench.hookimpl`` functions, listed under the ``vbench``
entry-point group of its distribution::

    [project.entry-points.vbench]
    my-plugin = "my_package"

Every hook takes one argument, ``register``: a callback the plugin calls once per thing it
provides (a class, or for datasets, metrics and layouts also an instance). Registries are typed:
``register`` rejects an object that does not subclass the right base class, a missing ``name``
and a name another plugin already registered (both providers are named). A plugin whose import
or hook fails is shown as broken by ``vbench plugins`` and skipped; the rest keeps working.
``docs/plugins.md`` walks through a complete plugin.
"""

from __future__ import annotations

import pluggy

PROJECT = "vbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def vbench_register_stainers(register):
    """Register staining methods: call ``register(StainerClass)`` once per class.

    ``register(cls)``: ``cls`` is a :class:`vbench.Stainer` subclass (the class, not an instance:
    the harness constructs one per run with the preset's parameters as keyword arguments, which
    the base class stores as attributes and in ``params``). Required:

    - ``name`` (str): unique; what ``-s NAME`` selects and runs are stored under.
    - ``fit(train, ctx)``: train on ``train``, a re-iterable sequence of :class:`vbench.Sample`
      (``input`` C_in x h x w, ``target`` 3 x H x W, float32 in [0, 1]). ``ctx`` is the
      :class:`vbench.RunContext`, also set as ``self.ctx`` before ``fit``: ``scale``, ``device``,
      ``seed``, ``val`` (validation samples, for model selection), ``budget`` (a
      :class:`vbench.Budget`: ``steps``, ``seconds``), ``pairing``, ``in_channels``, ``modality``
      and ``stain`` of the dataset (``""`` when it does not say) and a ``logger``. Call
      ``ctx.step(n=1, samples=0, stage=None, **logs)`` after each training step and stop when it
      returns False (step budget or seconds cap reached). That call also counts the FLOPs of one
      step per ``stage`` (into ``flops``, whose total is ``train_flops``; the runner calls
      ``end_training`` after ``fit``) and, at the runner's ``checkpoints``, calls
      ``on_checkpoint``, which scores ``predict`` on validation tiles (the anytime curve), so
      ``predict`` must work from the first step. ``ctx.precision`` is the run's ``fp32`` or
      ``bf16`` (``--precision``): run forward passes and losses inside ``with ctx.autocast():``
      (bf16 autocast at bf16, nothing at fp32; the runner wraps every ``predict`` in it);
      ``ctx.log(msg)`` logs; ``ctx.elapsed`` (seconds since
      ``start_clock``) and ``ctx.time_left`` read the clock. The harness reads ``steps_done``,
      ``samples_seen`` and ``truncated`` after ``fit`` and sets ``on_progress`` (progress bar).
    - ``predict(inputs)``: N x C_in x h x w in [0, 1] (on ``ctx.device``) to N x 3 x (h*scale) x
      (w*scale) in [0, 1]. Inputs may be larger than the training crops. Outputs are checked
      (shape, NaN/inf, range; within 1e-3 of [0, 1] they are clamped) before scoring.

    Optional class attributes:

    - ``pairings`` (set, default ``{"paired"}``): the dataset pairings it can train on
      (``paired``, ``misaligned``, ``unpaired``); other datasets are skipped with a warning.
    - ``presets`` (dict name -> dict of parameters): ``-s NAME:PRESET``; the first is the default.
      A preset may hold ``steps`` (the training budget, which ``ctx.budget.steps`` carries) and
      ``max_seconds`` (a cap; a run that reaches it is stored as truncated).
    - ``parameters`` (dict name -> :class:`vbench.Param`): what each parameter accepts, declared
      once: ``Param(kind, min=None, max=None, choices=(), item=int, help="", budget=False,
      empty=False)`` with ``kind`` one of
      ``int``, ``float``, ``bool``, ``str`` or ``list`` (one or more of ``item``), inclusive bounds (of each
      item of a list) and the only values of a ``str``. ``--set KEY=VALUE`` and a suite's
      ``PRESET[KEY=VALUE]`` are checked against it before any run is created, and ``vbench plugins
      --params NAME`` shows it. A parameter not declared takes values of its preset value's kind
      (``steps`` is always a whole number >= 1); a declared one may be set even where no preset does.
      ``Param(int, budget=True)`` marks a step count of a schedule that ``--budgets`` scales with ``steps``.
    - ``curve_tiles`` (int, default 8) and ``curve_crop`` (int, default 0: whole tiles): how many
      validation tiles the anytime curve scores, and the centre input pixels of each it scores;
      lower them where ``predict`` is slow.
    - ``scales`` (set of int or None): output/input scales it can produce; None: any.
    - ``stochastic`` (bool): ``predict`` samples; ``vbench predict`` then seeds it.
    - ``repeats`` (int, default 1): predictions per test tile; above 1 the run stores the
      per-pixel spread (``pixel_std``, ``pixel_cv``).
    - ``variants`` (dict name -> dict of attributes): evaluation variants, ``-s NAME:PRESET+VARIANT``:
      attributes set on the *trained* model before predicting; runs that differ only in variants
      share one trained checkpoint, so create every module in ``__init__``.

    Optional methods (the base class implements them):

    - ``state_dict()`` / ``load_state_dict(state)``: the checkpoint; by default every tensor and
      ``torch.nn.Module`` attribute, saved as safetensors in the run's folder.
    - ``parameter_count()``: stored with the run (default: floating-point tensors of the state).
    - ``network_evaluations()``: network evaluations per tile of the last ``predict`` for
      iterative samplers (stored as ``nfe``); None when not meaningful.

    Import heavy libraries inside methods, not at module import, so the CLI starts fast.
    """


@hookspec
def vbench_register_datasets(register):
    """Register datasets: call ``register(DatasetClassOrInstance)``.

    ``register(ds)``: ``ds`` is a :class:`vbench.Dataset` subclass or instance with

    - ``name`` (str, unique), ``task`` (free text, for example ``qpi->he``; the stain metrics read
      the stains from it when ``stain`` is not declared), ``pairing`` (``paired``, ``misaligned``
      or ``unpaired``), ``scale`` (output/input pixel ratio), ``in_channels`` (input channels);
    - ``modality`` (the input: ``quantitative-phase``, ``autofluorescence``, ``brightfield``,
      ``darkfield`` or free text) and ``stain`` (the target: ``he``, ``ihc-dab``...), passed to
      stainers in the run context; ``description`` and ``simulated`` (a plain-words note shown
      with results when the input is simulated rather than acquired);
    - ``max_displacement_px`` (float or None): for misaligned data, the largest displacement in
      target pixels between a target and the aligned stain of its input (the adjacent section's
      shift and stretch); ``@reg`` metrics never register the target further. None: unknown (they
      then allow an eighth of the tile side);
    - ``load(split)``: the :class:`vbench.Sample` list of ``train``, ``val`` or ``test``. A sample
      has an ``id`` (unique in the dataset; predictions made elsewhere are matched by it), an
      ``input`` (C_in x h x w float32 in [0, 1]), a ``target`` (3 x H x W; for unpaired data an
      independently drawn stained tile), a ``truth`` (the aligned stain when known, else None)
      and ``meta`` (position, pixel size...; ``meta["source"]``, the image a tile was cut from,
      lets the leaderboard resample source images instead of tiles). Its ``reference`` is what full-reference metrics
      compare with: ``truth``, else ``target``. Test tiles of at least 192 px keep no-reference
      metrics defined.
    - ``wholes()`` (optional): the dataset's whole-image test regions, a list of
      :class:`vbench.dataset.WholeRegion` (``id``, output ``height`` and ``width``, and readers of
      its ``input``, ``target`` and ``truth`` as integer or float arrays, so a large region is not
      held as float): large areas of the test split's tissue, disjoint from train and val, that
      ``vbench run --eval whole`` stains on overlapping tiles and scores whole.

    The base class provides ``samples(split)`` (``load``, cached), ``manifest()`` (id, split and
    sha256 of every tile), ``manifest_hash`` (stored with every run: results of different
    splits are never ranked together), ``verify(expected=None)`` (rebuild and compare with
    ``committed_manifest()``, which a dataset overrides to return the manifest it ships) and
    ``info()`` (label -> text for ``vbench datasets show``).
    """


@hookspec
def vbench_register_layouts(register):
    """Register dataset layouts: call ``register(LayoutClassOrInstance)`` once per layout.

    A layout is how the user's own images are arranged on disk; ``vbench datasets add NAME PATH
    --layout LAYOUT`` records the folder and the layout in ``$VBENCH_HOME/datasets.json``, and on
    every start vbench asks the layout to open it as a dataset (name ``user-datasets`` in
    ``vbench plugins``). ``--layout auto`` asks every layout's ``detect``.

    ``register(layout)``: ``layout`` is a :class:`vbench.DatasetLayout` subclass or instance with

    - ``name`` (str): the ``--layout`` value, unique among layouts;
    - ``tree`` (str): the files it expects, a few lines shown when a folder matches no layout;
    - ``fallback`` (bool, default False): asked only when no other layout recognises the folder;
    - ``detect(root: Path) -> bool``: whether ``root`` looks like this layout, from names only;
    - ``open(name, root, *, pairing=None, scale=1, in_channels=None, modality="", stain="")``:
      the :class:`vbench.Dataset`, built without reading any image (it runs on every start; a
      vanished folder is reported by ``load``). ``pairing`` None means the layout's default,
      ``in_channels`` None means detect it from the files;
    - ``check(dataset) -> dict[str, int]`` (default: load every split): read every file fully,
      raise :class:`vbench.errors.DatasetError` naming the file at fault, return tiles per split.

    The dataset keeps the options it was opened with as its ``pairing``, ``scale``, ``in_channels``,
    ``modality`` and ``stain`` (they are stored in ``datasets.json``). Its ``manifest()`` should hash
    the files themselves: the manifest is recorded when the dataset is added, and its
    ``committed_manifest()`` should return it (``vbench.user_datasets.recorded_manifest(name)``),
    so that ``vbench datasets verify NAME`` names every file changed since.
    """


@hookspec
def vbench_register_metrics(register):
    """Register metrics: call ``register(MetricClassOrInstance)``.

    ``register(m)``: ``m`` is a :class:`vbench.Metric` subclass or instance with

    - ``name`` (str, unique), ``kind`` (``full-reference``: each prediction against the aligned
      reference; ``no-reference``: each prediction alone; ``distribution``: the set of
      predictions against the set of real targets, one number per run), ``higher_is_better``
      and ``pipeline`` (how images are converted before scoring: bit depth, channel, window...;
      shown in ``vbench metrics list`` and under leaderboards); ``needs_reference`` is True for
      full-reference metrics;
    - ``compute(pred, ref)``: N x 3 x H x W float32 in [0, 1] (``ref`` None unless
      full-reference) to N scores; a NaN score is stored as undefined. Distribution metrics
      implement ``compute_set(preds, targets)`` instead: iterables of 1 x 3 x H x W batches to
      one number.

    Optional:

    - ``default_for`` (set of pairings): default metric sets that include the metric.
    - A metric of whole stitched images subclasses :class:`vbench.metric.WholeImageMetric`: it is
      fed row bands (``start``, ``update``, ``finish``) so memory does not grow with the image, and
      sees the :class:`vbench.metric.TileGrid` the image was predicted on (``needs_grid``).
    - ``curve_for`` (set of pairings): anytime validation curves of those pairings use the metric
      (cheap metrics only; vbench's: psnr and ssim for paired and unpaired-with-truth data,
      psnr@reg for misaligned, niqe for unpaired without truth).
    - ``unit`` (str, default ``""``): the unit of its scores (``"dB"``, ``"ΔE00"``), shown in
      column headings and axis labels; ``display_name`` (str, default ``""``: the ``name``): what
      headings call it.
    - ``rank_priority`` (int or None, default None): whether and how early leaderboards rank by it
      when no metric is chosen with ``-m``: of a board's metrics, the one with the lowest priority
      ranks the board, and the terminal table shows metrics with a priority first, lowest first.
      None: never preferred (a board without any preferred metric ranks by its first column).
      Boards store ``unit``, ``display_name`` and ``rank_priority`` in their JSON
      (:func:`vbench.metric.presentation`), so a board renders the same without the plugin.
    - ``against`` (``reference`` or ``target``, default ``reference``): what a full-reference
      metric compares with: the aligned truth where known (else the target), or the target as
      given even where a truth exists (for metrics that register it to the prediction first).
    - ``setup(dataset)``: called once per dataset before scoring (fit a model on its train
      split...); raise :class:`vbench.errors.MetricNotApplicable` when it cannot score this
      dataset: the run stores the metric as not computed, with the reason.
    - ``assets`` (tuple of :class:`vbench.assets.Asset`): files the metric needs (weights,
      parameters); ``vbench assets status | fetch | import`` gather them from registered metrics.
      ``assets_note``: what ``metrics list`` shows when the library fetches its own files, and
      ``fetch_library_files(log)`` downloads them for ``vbench assets fetch``.

    :class:`vbench.ImageMetric` adds input checks: implement ``score(pred, ref)``, which its
    ``compute`` calls after ``check(pred, ref)`` (shapes, reference present); ``min_size`` is the
    smallest tile side it is defined on (smaller tiles: not computed, with
    ``too_small_message(size)`` as the reason; its ``setup`` checks the dataset's test tiles).
    :class:`vbench.DistributionMetric` is the base of distribution metrics. The scoring engine
    never uses an unpaired dataset's targets as references, whatever a metric declares.
    """
