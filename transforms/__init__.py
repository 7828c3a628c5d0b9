"""The pipeline's stages, one package each, in the order a message meets them.

- ``cleaning``: a raw item parsed, normalized and stripped of boilerplate, into a clean article;
- ``identity``: the article's id, content hash and warehouse row; its versions and repeats;
- ``learning``: boilerplate learned from the lines a source repeats across its items;
- ``syndication``: fingerprints of the bodies, clusters of the copies of one story, story rows.

Each package holds its stage's pure functions (exported by the package) and, in ``dofns.py``, the
thin Beam wrappers of that stage. Shared by all: ``model`` (the typed values, and ``Unit``, what
travels from cleaning to the sinks), ``errors`` (dead letters) and ``coders`` (Beam's unit coder).
"""
