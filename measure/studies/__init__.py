"""The studies the suite runs on a CPU, each a measurement of the claim modules of the same name:
FLOPs per image, pre-training compute and compute at matched accuracy (`flops`; Table 6, §4.4), Table 1's
columns counted from the built ViTs (`table1`), a checkpoint moved to a higher resolution by both resamplers
(`posemb`, a package; §3.2), and the small-data analogue of §4.3 (`small_data`, a package). Each keeps its
results in the suite's cache (`records` for the small ones); importing any of them imports nothing heavy."""
