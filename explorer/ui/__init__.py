"""Streamlit pieces shared by the app's pages. The only part of `explorer` that imports Streamlit."""
