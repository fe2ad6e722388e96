"""Word lists for the sample company: people, customers, products, channels and campaigns."""

from __future__ import annotations

__all__ = [
    "CHANNELS",
    "CHANNEL_WEIGHTS",
    "CITIES",
    "COMPANY_WORDS",
    "GIVEN_NAMES",
    "INDUSTRIES",
    "OPEN_STAGES",
    "PRODUCT_LINES",
    "SEGMENTS",
    "SURNAMES",
]

SURNAMES = (
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Chen",
    "Yang",
    "Huang",
    "Zhao",
    "Wu",
    "Zhou",
    "Xu",
    "Sun",
    "Ma",
    "Zhu",
    "Hu",
    "Guo",
    "He",
    "Lin",
    "Luo",
    "Gao",
    "Zheng",
    "Liang",
)
GIVEN_NAMES = (
    "Wei",
    "Fang",
    "Na",
    "Min",
    "Jing",
    "Lei",
    "Jun",
    "Yang",
    "Yong",
    "Yan",
    "Jie",
    "Tao",
    "Ming",
    "Chao",
    "Xiuying",
    "Hui",
    "Qiang",
    "Ping",
    "Gang",
    "Guilan",
    "Haoran",
    "Zihan",
    "Yuxuan",
    "Xinyi",
    "Jiahao",
    "Shuang",
    "Lin",
    "Bo",
    "Hong",
    "Xiaoling",
    "Peng",
    "Kai",
)

CITIES = {
    "East": ("Shanghai", "Hangzhou", "Suzhou", "Nanjing", "Ningbo", "Hefei"),
    "North": ("Beijing", "Tianjin", "Jinan", "Qingdao", "Shijiazhuang", "Taiyuan"),
    "South": ("Shenzhen", "Guangzhou", "Xiamen", "Dongguan", "Fuzhou", "Foshan"),
}
COMPANY_WORDS = (
    "Huaxin",
    "Tianrui",
    "Zhongke",
    "Jinsheng",
    "Hengtai",
    "Xinyuan",
    "Boyuan",
    "Ruida",
    "Kaiyue",
    "Mingde",
    "Anxin",
    "Longfei",
    "Shengshi",
    "Yuanhang",
    "Dingxin",
    "Haoyun",
    "Jiahe",
    "Tongda",
    "Weiye",
    "Zhiyuan",
    "Lianchuang",
    "Fuxing",
    "Hongtu",
    "Qiming",
)
INDUSTRIES = {
    "SaaS": "Software",
    "Manufacturing": "Machinery",
    "Retail": "Trading",
    "Healthcare": "Medical",
    "Finance": "Capital",
    "Education": "Education Technology",
    "Logistics": "Supply Chain",
}
SEGMENTS = (("enterprise", 2), ("mid_market", 5), ("smb", 8))

PRODUCT_LINES = ("CRM Cloud", "Marketing Automation", "Analytics Suite", "Service Desk", "Implementation Services")
OPEN_STAGES = ("Qualification", "Needs Analysis", "Proposal", "Negotiation")

CHANNELS = ("search", "social", "referral", "event", "direct", "content")
CHANNEL_WEIGHTS = (30, 24, 10, 10, 10, 16)
