"""Workbooks and exports. Data comes only through the scoped selectors; every export is audited."""
