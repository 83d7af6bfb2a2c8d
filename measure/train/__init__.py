"""Fine-tuning with the paper's recipe (App. B.1.1): the recipe as data (`recipe`), model surgery (`surgery`;
the on-device input layer in `normalize`), the training data stream (`stream`), the training loop with its
resumable state (`loop`), the lr-selection protocol and cached runs (`protocol`), and how runs execute and
what the command line asks (`settings`). Only `normalize` imports torch when imported."""
