"""The greedy back end: a fast constructive placer (see :mod:`packer.greedy.solver`).

Every back end package (``greedy``, ``online``, ``cpsat``) exposes ``solve(instance, **options)``
returning a SPEC :class:`~packer.model.Plan`; :mod:`packer.dispatch` picks one by name.
"""

from packer.greedy.solver import solve

__all__ = ["solve"]
