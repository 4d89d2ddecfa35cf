"""Inputs: the binding grammar (`x=[1,2]`, `rand(3)`, `@data.npy`; bindings.py) and binding a parsed
program to values (bind.py)."""
from .bind import bind, differentiated, gradient_seed
from .bindings import value_from_json, value_of_shape

__all__ = ["bind", "differentiated", "gradient_seed", "value_from_json", "value_of_shape"]
