"""Fine-tuning with the paper's recipe (App. B.1.1): the recipe as data (`recipe`), model surgery (`surgery`;
the on-device input layer in `normalize`), the training data stream with its mixup and per-process shards
(`stream`), the training loop with its resumable state (`loop`), the lr-selection protocol and cached runs
(`protocol`), how runs execute and what the command line asks (`settings`), one run over several processes
(`distributed`; the torchrun command `launch`), and what a fine-tune costs from FLOPs (`cost`). Only `normalize`
imports torch when imported."""
