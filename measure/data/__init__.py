"""The paper's datasets: what they are (`datasets`), where the user keeps them (`paths`), opening them through
torchvision (`opening`; ImageNet val and ReaL in `imagenet`), the development split (`splits`), a checkpoint's
eval preprocessing (`transforms`), and which examples a result is over (`fingerprint`)."""
