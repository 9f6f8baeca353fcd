"""Rights holders: a registry of characters and works with their reference media and versioned
opt-in rules, the per-worker view that matches videos against it, and the gate that applies rules.

Modules: ``models`` (tables), ``media`` (reference validation, metadata stripping), ``registry``
(audited changes, takedowns/relabels, reports), ``view`` (index + terms per worker, the detector),
``gate`` (the pipeline step after the policy).
"""
