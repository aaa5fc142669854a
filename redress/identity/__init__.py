"""Who the customer is, proven rather than claimed (docs/identity.md).

Knowing an account number or an e-mail address is not proof: anyone can type one. A
conversation's account is *verified* in one of two ways: the business's own login hands the
widget a signed identity (an HMAC of the account number with a per-business secret), or the
customer types a one-time code e-mailed to the address on file. Until then a complaint is
logged and apologised for, but nothing from the account is shown and no money is offered.
"""
