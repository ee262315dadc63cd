"""HTTP routers, one file per resource. Thin: validate, call the station, translate errors."""
