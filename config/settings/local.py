"""Local / quick-start settings: `make run` and every `manage.py` command of a checkout.

The installation's keys live in key files under GRIDGOV_KEYS_DIR (default var/keys, outside git), made on
first use with random content (mode 600, atomically: config/keys.py), unless the environment gives them.
DEBUG is off unless asked for (`DEBUG=1`): debug pages show settings and local variables.
"""

from pathlib import Path

from config.env import env_bool, env_str
from config.keys import (
    DATA_KEY_FILE_NAME,
    SECRET_KEY_FILE_NAME,
    data_key_checked,
    installation_secret,
    new_data_key,
    new_secret_key,
)

from .base import *  # noqa: F403
from .base import VAR_DIR

DEBUG = env_bool("DEBUG", False)
KEYS_DIR = Path(env_str("GRIDGOV_KEYS_DIR", str(VAR_DIR / "keys")))
SECRET_KEY = installation_secret("SECRET_KEY", keys_dir=KEYS_DIR, file_name=SECRET_KEY_FILE_NAME,
                                 make=new_secret_key)
PERSONAL_DATA_KEY = data_key_checked(installation_secret("GRIDGOV_DATA_KEY", keys_dir=KEYS_DIR,
                                                        file_name=DATA_KEY_FILE_NAME, make=new_data_key))
