"""The digest as the user sees it: rendering (text + HTML), the MIME message, the .ics hold."""
