"""`python -m autodiff_cli`: the same as the `autodiff` command."""
from .cli import main

if __name__ == "__main__":
    main()
