"""Thread-dump formats (detected from the content) and their analysis."""
