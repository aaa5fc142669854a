"""Reports on how complaints and their recovery are going, for a chosen period, team and
category: the figures (``figures``), server-drawn SVG charts (``charts``) and CSV
(``csv_out``). docs/reports.md says what each figure means and how it is computed."""
