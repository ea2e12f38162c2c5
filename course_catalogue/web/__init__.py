"""The Flask application: JSON API, HTML pages and the `catalogue` command line."""
