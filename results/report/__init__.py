"""The results of AD-DROP on GLUE, rebuilt from the run files: one module a section of docs/RESULTS.md.

runs             loading the run files; task order, metric names, mean and spread, the best run
short_protocol   the 4-epoch protocol's table and per-seed findings
authors_protocol the authors' protocol: paired differences, t intervals, epochs run, prediction shifts
summary          the three-sentence summary
search_maps      the searches' p x q maps
prior            the prior experiment (the paper's Figure 2)
dynamics         the attribution-dynamics table and figure
adaptive         the adaptive search replayed against a complete grid
status           runs recorded per phase, and the machines they ran on
build            docs/RESULTS.md from the template and every section
"""
