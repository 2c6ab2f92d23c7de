"""Running clusters: the command line of ``packer freeze`` (library: :mod:`packer.freeze`)."""
