"""ruletest"""
