"""The short version of the fault suite (`reliability/`), run by `make test`."""
