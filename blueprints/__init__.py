"""HTTP routes, one module per area; each module's blueprint is `bp`."""
