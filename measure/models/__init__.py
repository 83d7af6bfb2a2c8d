"""The paper's models: which public checkpoint is which (`registry`, the data in `checkpoints.csv`), where its
weights come from (`hub`), loading them (`loaders`; `pins` says which timm the registry needs), and which
representation a head-less model outputs (`representations`). Importing the package imports nothing heavy."""
