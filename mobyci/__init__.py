"""mobyci: build the Docker engine (moby) from source in CI, behind mirrors and proxies."""

__version__ = "0.1.0"

HOMEPAGE = "https://github.com/mobyci/mobyci"
# Where the committed schemas/mobyci.schema.json is published for editors (yaml-language-server).
SCHEMA_URL = "https://raw.githubusercontent.com/mobyci/mobyci/main/schemas/mobyci.schema.json"
