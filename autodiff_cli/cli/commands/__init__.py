"""One module per command group: the modes (one command each, made from calculus.MODES), minimize,
batch and plot. Each has `register(app)`."""
