import sys

from modfourier.cli import main

sys.exit(main())
