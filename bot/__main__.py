import sys

from bot.startup.cli import main

sys.exit(main())
