"""atheris target: hostile `json` feeds through their harvester and mapping (see fuzz/target.py)."""

from fuzz.target import main

if __name__ == "__main__":
    main("json")
