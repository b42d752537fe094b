from . import gumroad_connector
