"""One settings package: `base` holds everything, each service module only overrides."""
