// English and Simplified Chinese. Numbers, money and dates are formatted in the viewer's locale
// (zh-CN: 1,234.5, 1.2万, 2026年12月3日, ¥) and money always in the data's own currency.

const MESSAGES = {
  en: {
    "schedule now": "now",
    "schedule at": "once, at a time",
    "schedule daily": "daily",
    "schedule weekly": "weekly",
  },
  "zh-CN": {
    "Omnireach console": "Omnireach 控制台",
    "Sign in": "登录",
    "Sign out": "退出",
    "Admin key": "管理员密钥",
    "The admin key is kept in this tab only and forgotten when it closes.": "管理员密钥只保存在当前标签页，关闭即清除。",
    "That key was not accepted.": "该密钥无效。",
    Language: "语言",
    Overview: "概览",
    Customers: "客户",
    Segments: "分群",
    Campaigns: "营销活动",
    Journeys: "旅程",
    Membership: "会员",
    "Inventory and pricing": "库存与价格",
    Sources: "数据源",
    "Skip to content": "跳到正文",
    Loading: "加载中",
    "Touchpoints per channel, last 24 hours": "各渠道触点（近24小时）",
    "Touchpoints per channel, last 7 days": "各渠道触点（近7天）",
    "Touchpoints (24 h)": "触点（24小时）",
    "Touchpoints (7 days)": "触点（7天）",
    "Profiles created (7 days)": "新建档案（7天）",
    "Merges (7 days)": "合并（7天）",
    "Campaigns running": "进行中的活动",
    "Queues": "队列",
    "Queue": "队列",
    Waiting: "等待",
    "In flight": "处理中",
    Status: "状态",
    "Needs attention": "需要处理",
    OK: "正常",
    "As of {time}": "截至 {time}",
    "No reading yet: the queue monitor runs every five minutes.": "暂无读数：队列监控每五分钟运行一次。",
    "Sync drift": "同步偏差",
    "Channel": "渠道",
    "Last run": "最近运行",
    Checked: "已检查",
    Drift: "偏差",
    "No reconciliation has run yet.": "尚未进行对账。",
    "Find a customer": "查找客户",
    "Identifier type": "标识类型",
    Value: "值",
    Search: "搜索",
    "No customer has that identifier.": "没有客户使用该标识。",
    email: "邮箱",
    phone: "手机",
    user_id: "用户ID",
    anonymous_id: "匿名ID",
    openid: "OpenID",
    unionid: "UnionID",
    loyalty_card: "会员卡",
    shop_customer_id: "店铺客户ID",
    "Identifiers by channel": "按渠道的标识",
    Identifier: "标识",
    "Seen on": "出现渠道",
    Timeline: "时间线",
    When: "时间",
    Event: "事件",
    "Orders and revenue per channel": "各渠道订单与收入",
    Orders: "订单",
    Revenue: "收入",
    Touches: "触达",
    Classification: "分类",
    Stage: "阶段",
    Tier: "层级",
    "Price sensitivity": "价格敏感度",
    Consent: "同意",
    "Points, tier and coupons": "积分、等级与优惠券",
    Points: "积分",
    Coupons: "优惠券",
    "Not a member.": "非会员。",
    "Messages received": "收到的消息",
    Outcome: "结果",
    Export: "导出",
    Erase: "删除",
    Unmerge: "拆分",
    Cancel: "取消",
    "Erase this customer?": "删除该客户？",
    "Everything held about this person is removed by a background job; this cannot be undone.": "后台任务将删除此人的全部数据，且无法撤销。",
    "Undo this merge?": "撤销此合并？",
    "Both profiles are restored as they were and never merged again.": "两个档案将恢复原状，且不会再合并。",
    "Erasure requested: {id}": "已提交删除请求：{id}",
    "Unmerged.": "已拆分。",
    Merges: "合并",
    "Merged at": "合并时间",
    "Download export": "下载导出",
    "Member count": "成员数",
    Name: "名称",
    Description: "描述",
    "New segment": "新建分群",
    "Segment id": "分群ID",
    Rule: "规则",
    "Match": "匹配",
    "all of": "全部满足",
    "any of": "任一满足",
    "Add condition": "添加条件",
    Remove: "移除",
    Field: "字段",
    Operator: "运算符",
    Kind: "类型",
    "Preview count": "预估人数",
    "Save segment": "保存分群",
    "Would match {n} of {population}": "将匹配 {n} / {population}",
    "(exact)": "（精确）",
    "(estimated from a sample)": "（基于抽样估计）",
    "Saved.": "已保存。",
    "Hashed export": "哈希导出",
    "Exported {done} of {total}": "已导出 {done} / {total}",
    "did the event": "发生事件",
    "bought": "购买",
    "consent": "同意",
    "field": "字段",
    "Event name": "事件名",
    "Within days": "天数内",
    SKU: "SKU",
    "New campaign": "新建活动",
    "Campaign id": "活动ID",
    "Segment": "分群",
    "Channels (in order, with fallback)": "渠道（按顺序，依次回退）",
    Subject: "主题",
    Body: "正文",
    "Holdout %": "对照组 %",
    "Preview for a customer (profile id)": "为某客户预览（档案ID）",
    "Create draft": "创建草稿",
    Launch: "启动",
    Pause: "暂停",
    Resume: "恢复",
    Report: "报告",
    Audience: "受众",
    Outcomes: "结果",
    Conversions: "转化",
    Lift: "提升",
    ROI: "投资回报率",
    Complete: "已完成",
    "In progress": "进行中",
    "Outcomes add up to the audience": "结果合计等于受众",
    "Per channel": "按渠道",
    Sent: "已发送",
    "Waiting at each step": "各步骤等待人数",
    Step: "步骤",
    Tiers: "等级",
    Members: "会员数",
    "Coupon definitions": "优惠券定义",
    Issued: "已发放",
    Redeemed: "已核销",
    Active: "启用",
    "Points outstanding": "未使用积分",
    Location: "门店/仓库",
    "On hand": "在库",
    Reserved: "已预留",
    Available: "可售",
    "Availability per channel": "各渠道可售",
    Published: "已发布",
    Price: "价格",
    "Set stock": "设置库存",
    "New on-hand count": "新的在库数",
    Promotions: "促销",
    From: "开始",
    To: "结束",
    "Last push": "最近推送",
    "New source": "新建数据源",
    "Source id": "数据源ID",
    Type: "类型",
    Created: "创建时间",
    Enabled: "启用",
    Disabled: "停用",
    Disable: "停用",
    Enable: "启用",
    "Rotate secret": "轮换密钥",
    "Shown once: copy it now.": "仅显示一次：请立即复制。",
    Copy: "复制",
    Copied: "已复制",
    "Something went wrong: {message}": "出错了：{message}",
    None: "无",
    Yes: "是",
    No: "否",
    Refresh: "刷新",
    Total: "合计",
    Other: "其他",
    sent: "已发送",
    delivered: "已送达",
    suppressed: "已抑制",
    deferred: "已延后",
    failed: "失败",
    holdout: "对照组",
    draft: "草稿",
    active: "进行中",
    paused: "已暂停",
    cancelled: "已取消",
    completed: "已完成",
    Trigger: "触发条件",
    "Revenue (orders on the timeline)": "收入（时间线中的订单）",
    Schedule: "排期",
    "First send": "首次发送",
    "schedule now": "立即",
    "schedule at": "定时",
    "schedule daily": "每天",
    "schedule weekly": "每周",
    "At most (this campaign, per customer)": "上限（本活动，每位客户）",
    Window: "周期",
    "per day": "每天",
    "per week": "每周",
    "Hold sends in a customer's quiet hours until they end (the frequency policy's quiet hours)": "在客户的免打扰时段暂缓发送，结束后再发（频控策略中的免打扰时段）",
    "Summed by the nightly loyalty run; not run yet.": "由每晚的会员任务汇总；尚未运行。",
    "Waiting to run this step": "等待执行此步骤",
    Purpose: "用途",
    Preview: "预览",
    "Send at the customer's local time": "按客户当地时间发送",
    "The rest of the audience is suppressed as cancelled.": "其余受众将以“已取消”抑制。",
    "Phones with their country code: +86 138 0000 0000": "手机号需带国家码：+86 138 0000 0000",
    "Server-side key (never shipped in a browser or app)": "服务端密钥（不得放在浏览器或应用中）",
    "Touchpoints signed with this source's key are refused until it is enabled again.": "在重新启用前，该数据源签名的触点将被拒收。",
    "The previous secret stays valid until the next rotation.": "旧密钥在下次轮换前仍然有效。",
  },
};

export const LOCALES = [
  { code: "en", label: "English" },
  { code: "zh-CN", label: "简体中文" },
];

const STORED = "omnireach.locale"; // a preference, not a secret

export function currentLocale() {
  const chosen = localStorage.getItem(STORED);
  if (chosen && MESSAGES[chosen]) return chosen;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export function setLocale(code) {
  localStorage.setItem(STORED, code);
  document.documentElement.lang = code;
}

export function t(text, vars) {
  const locale = currentLocale();
  let out = (MESSAGES[locale] && MESSAGES[locale][text]) || text;
  for (const [name, value] of Object.entries(vars || {})) out = out.replaceAll(`{${name}}`, String(value));
  return out;
}

export function number(value) {
  if (value === null || value === undefined || value === "") return "–";
  return new Intl.NumberFormat(currentLocale()).format(Number(value));
}

// 12.35万 and 1.5亿 in Chinese, 12K and 1.5M in English.
export function compact(value) {
  return new Intl.NumberFormat(currentLocale(), { notation: "compact", maximumFractionDigits: 2 }).format(Number(value));
}

export function percent(value, digits = 1) {
  if (value === null || value === undefined) return "–";
  return new Intl.NumberFormat(currentLocale(), { style: "percent", maximumFractionDigits: digits }).format(Number(value));
}

export function money(amount, currency) {
  if (amount === null || amount === undefined) return "–";
  if (!currency) return number(amount);
  try {
    return new Intl.NumberFormat(currentLocale(), { style: "currency", currency }).format(Number(amount));
  } catch {
    return `${number(amount)} ${currency}`;
  }
}

export function date(value) {
  if (!value) return "–";
  return new Intl.DateTimeFormat(currentLocale(), { dateStyle: "long" }).format(new Date(value));
}

export function dateTime(value) {
  if (!value) return "–";
  return new Intl.DateTimeFormat(currentLocale(), { dateStyle: "medium", timeStyle: "short" }).format(new Date(value));
}

export function hour(value) {
  return new Intl.DateTimeFormat(currentLocale(), { hour: "numeric" }).format(new Date(value));
}

export function weekday(value) {
  return new Intl.DateTimeFormat(currentLocale(), { weekday: "short", month: "numeric", day: "numeric" }).format(new Date(value));
}
