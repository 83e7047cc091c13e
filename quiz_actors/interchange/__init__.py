"""Quizzes in and out of the server as files: Kahoot's spreadsheet layout (.xlsx, .csv)
and the project's own JSON with its pictures.

* ``sheets``: the cells of a spreadsheet file, read within limits (no formulas, no
  zip bombs, a bounded number of rows) and written safely.
* ``kahoot``: Kahoot's template layout: rows of cells to a quiz document and back,
  every problem placed at its row and column.
* ``bundle``: the JSON export, a quiz document with its pictures in base64.
* ``transfer``: importing a file as a new quiz (all of it or nothing) and exporting one.
"""
