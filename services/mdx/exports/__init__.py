"""Writers of a selection of features (GeoJSON Feature dicts, as the API reads them) into the
files GIS desktops, spreadsheets and Google Earth open: GeoJSON, CSV and KML.

Each writer consumes an iterable of features and writes to a binary file, one feature at a time,
so an export of many thousands never holds the whole file as objects. `selection` pages
through the database under the releasability policy; the writers know nothing of the policy.
"""
