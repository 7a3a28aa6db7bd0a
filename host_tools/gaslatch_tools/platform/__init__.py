"""The reference platform's service parts beyond receiving: warnings (rules.py, warning_store.py), the people to
tell (contacts.py) and the notifier that tells them (notifier.py). The receiver's modules move here later.
"""
