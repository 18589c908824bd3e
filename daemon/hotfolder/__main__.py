import sys

from hotfolder.cli.commands import main

sys.exit(main())
