"""The `semcodec` command line, installed as the package `semcodec_cli` (folder `cli/`)."""
