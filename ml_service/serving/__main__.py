"""`python -m ml_service.serving`: the same as `mlops serve`."""

from ml_service.cli import main

if __name__ == "__main__":
    import sys

    main(["serve", *sys.argv[1:]])
