"""EU CISE (Common Information Sharing Environment) exports: mdx incidents and vessels as CISE
data-model 1.5.3 entities in a service-model Push message, checked against the published XSDs
in schemas/cise/ (mdx.cise.xsd)."""
