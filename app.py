"""The qc review dashboard: ``streamlit run app.py -- DIR`` (or ``qc dashboard DIR``).

Layout lives in ``qc/app.py`` so that it ships with the package; this file only runs it.
"""

from qc.app import main

main()
