"""The ResNet example's pytest wiring: nothing but the plugin (entry point `claims`) and this folder's pyproject.toml."""
