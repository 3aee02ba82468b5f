"""Build what HEE sends out: personalised workbooks, SPSS templates, codebooks, the distribution register."""
