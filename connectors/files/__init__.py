"""Local exports as a source: ICS calendars, mbox/Maildir/.eml mail, a people file.

What Google Takeout, Outlook and Thunderbird users can export, read in place
and turned into the normalized records of :mod:`connectors.records`.
"""
