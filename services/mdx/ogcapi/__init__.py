"""OGC API - Features (Parts 1 and 3) over this node's data: what the router at /ogcapi/ serves.

`collections` defines the four collections and their queryables, `cql2` turns CQL2 text into
SQL over those queryables, `parameters` checks the items query parameters, `documents` writes
the landing page, conformance and collection documents. Every read goes through the same
releasability policy as /api/v1 (mdx.api.visibility).
"""
