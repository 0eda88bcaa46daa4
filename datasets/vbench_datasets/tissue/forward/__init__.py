"""Forward models: how a label-free image of the tissue is simulated from its stained image.

One small module per imaging model; each is a frozen dataclass whose fields are its parameters
(recorded in the dataset's manifest) and whose ``simulate`` maps stain densities to an image.
"""
