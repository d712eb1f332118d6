import pandas as pd
import pytest

from pipeline import schemas as s
from pipeline.selfservice import agent_answer, answer_alikeness, self_service_candidates

SAME = "客户：怎么充值？\n坐席：您好，很高兴为您服务。您可以在App首页点击充值，选择金额后支付即可。"
VARIED = [
    "客户：宽带怎么移机？\n坐席：需要先预约师傅上门勘察新地址的线路，再确认端口资源。",
    "客户：套餐能改吗？\n坐席：下个月生效，合约期内的套餐只能升级不能降档，违约金按剩余月份计算。",
    "Customer: my SIM is blocked\nAgent: please bring your ID card to a store so we can verify and issue a new PUK code.",
    "客户：为什么扣了我的钱\n坐席：我查一下您的账单明细，这笔是上个月开通的视频会员自动续费。",
]


def test_agent_answer_drops_greetings_and_needs_agent_turns():
    assert "很高兴为您服务" not in agent_answer(SAME)
    assert "充值" in agent_answer(SAME)
    assert agent_answer("门店登记：客户反映信号差") == ""  # an untagged note has no agent answer


def test_identical_answers_are_alike_and_different_ones_are_not():
    assert answer_alikeness([agent_answer(SAME)] * 30) == pytest.approx(1.0)
    assert answer_alikeness([agent_answer(t) for t in VARIED * 8]) < 0.6


def test_candidates_rank_alike_answers_of_automate_reasons_by_prize():
    window = pd.DataFrame(
        {s.REASON: ["top_up"] * 30 + ["how_to"] * 32 + ["billing_dispute"] * 30,
         s.TEXT: [SAME] * 30 + VARIED * 8 + [SAME] * 30}
    )
    reasons = pd.DataFrame(
        {"reason": ["top_up", "how_to", "billing_dispute"], "name_zh": ["充值", "咨询", "账单"], "name_en": ["Top-up", "How-to", "Bill"],
         "quadrant": ["automate", "automate", "eliminate"], "observed_quadrant": ["automate", "automate", "eliminate"],
         "annual_prize": [10_000.0, 10_000.0, 50_000.0], "currency": ["CNY"] * 3, "self_service": ["App 充值", "", ""]}
    )
    candidates = self_service_candidates(window, reasons)
    assert candidates["reason"].tolist() == ["top_up", "how_to"]  # eliminate reasons are not candidates
    assert candidates.loc[0, "answer_alikeness"] > candidates.loc[1, "answer_alikeness"]
    assert candidates.loc[0, "transcripts"] == 30
