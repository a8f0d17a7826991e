"""The chat forwarder: an AWS Lambda function subscribed to the alarm topic (see handler.py).

handler.py is deployed alone as a single-file zip (standard library only), so nothing here may
be imported by it.
"""
