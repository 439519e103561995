"""Looking at results: static matplotlib figures and ipywidgets explorers with a static fallback."""
