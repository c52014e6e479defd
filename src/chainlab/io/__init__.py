"""Reading captures: C3D files into one xarray Dataset per trial."""
