"""Inventories written for the differential suite: one per item of issue 12, and what
Ansible's inventory guide and pattern guide document beyond the corpus.

Each case is a folder of files (written under a temporary folder at test
time), the ``-i`` arguments relative to it, and patterns beyond the ones
every case gets (see ``test_inventory_compat.generic_patterns``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OwnCase:
    """Files (path -> text), the ``-i`` arguments, extra patterns, and a refusal if any."""

    files: dict[str, str]
    sources: tuple[str, ...]
    patterns: tuple[str, ...] = ()
    refused: str | None = None
    # Patterns fleet refuses (a term matching nothing) where Ansible warns and
    # selects hosts anyway: the deliberate differences, proven on both sides.
    refused_patterns: tuple[str, ...] = ()


CASES: dict[str, OwnCase] = {
    "yaml_ranges_and_ports": OwnCase({"inv.yml": """\
all:
  children:
    web:
      hosts:
        www[01:03].example.com:
        db-[a:c]:
          ansible_user: dba
        app[1:9:4]:
        single:2222:
        "[2001:db8::1]:2200":
        10.0.0.[1:2]:2201:
"""}, ("inv.yml",), ("www*", "db-?", "~db-[ab]", "www[01:03].example.com", "app[0:1]")),

    "plain_vars_are_not_settings": OwnCase({"inv.yml": """\
all:
  hosts:
    web1:
      host: elsewhere.example.com
      port: 2222
      user: bob
      connection: local
      identity_file: id_other
      proxy_jump: bastion
    web2:
      ansible_host: 10.0.0.2
      port: 2200
"""}, ("inv.yml",)),

    "legacy_names_win": OwnCase({"inv.yml": """\
all:
  vars:
    ansible_ssh_user: legacy
    ansible_ssh_port: 2200
  children:
    g:
      vars:
        ansible_ssh_host: legacy.example.com
        ansible_private_key_file: keys/new
      hosts:
        h1:
          ansible_user: modern
          ansible_port: 2300
          ansible_host: modern.example.com
          ansible_ssh_private_key_file: keys/legacy
        h2:
          ansible_user: modern
"""}, ("inv.yml",)),

    "group_priority_yaml": OwnCase({"inv.yml": """\
a_group:
  vars:
    testvar: a
    ansible_group_priority: 10
  hosts:
    h1:
b_group:
  vars:
    testvar: b
  hosts:
    h1:
    h2:
c_group:
  vars:
    testvar: c
    ansible_group_priority: 0
  hosts:
    h2:
"""}, ("inv.yml",)),

    "group_priority_ini": OwnCase({"inv.ini": """\
[a]
h1
[b]
h1
[a:vars]
testvar=a
ansible_group_priority=5
[b:vars]
testvar=b
"""}, ("inv.ini",)),

    "hosts_under_all_are_ungrouped": OwnCase({
        "inv.yml": "all:\n  hosts:\n    loose1:\n  children:\n    g:\n      hosts:\n"
                   "        member:\n        loose1:\n    other:\n      hosts:\n        loose2:\n",
        "extra.ini": "[all]\nloose3\n\n[ungrouped]\nloose4\n",
        "group_vars/ungrouped.yml": "marker: ungrouped-file\n",
    }, ("inv.yml", "extra.ini"), ("ungrouped", "ungrouped:&all", "all:!ungrouped", "all[0]")),

    "ini_first_port_wins": OwnCase({"inv.ini": """\
[a]
h1:2201
h2
[b]
h1:2202
h2:2203
h3:2204 ansible_port=2205
[c]
h3:2206
"""}, ("inv.ini",)),

    "yaml_first_port_wins": OwnCase({
        "one.yml": "g1:\n  hosts:\n    h1:2201:\n",
        "two.yml": "g2:\n  hosts:\n    h1:2202:\n    h2:\n",
    }, ("one.yml", "two.yml")),

    "jump_in_ssh_args": OwnCase({"inv.yml": """\
all:
  hosts:
    a:
      ansible_ssh_args: -C -o ControlMaster=auto -J jump1
    b:
      ansible_ssh_common_args: -o ProxyJump=ops@jump2:2222
    c:
      ansible_ssh_args: -J first
      ansible_ssh_common_args: -J second
      ansible_ssh_extra_args: -J third
    d:
      ansible_ssh_extra_args: -qJ ops@jump3,jump4
    e:
      ansible_ssh_common_args: '-o "ProxyJump none"'
    f:
      ansible_ssh_common_args: -o ProxyCommand="ssh -W %h:%p gw"
"""}, ("inv.yml",)),

    "relative_key_paths_are_cwd_relative": OwnCase({
        "inventory/hosts.yml": "all:\n  hosts:\n    h1:\n    h2:\n      "
                               "ansible_ssh_private_key_file: ./keys/h2\n",
        "inventory/group_vars/all.yml": "ansible_ssh_private_key_file: keys/id_fleet\n",
        "inventory/host_vars/h1.yml": "ansible_private_key_file: ~/.ssh/h1\n",
    }, ("inventory/hosts.yml",)),

    "inventory_dir_in_key_paths": OwnCase({
        "inventory/hosts.yml": "all:\n  vars:\n    ansible_ssh_private_key_file: "
                               "'{{ inventory_dir }}/../keys/id'\n  hosts:\n    h1:\n",
        "inventory/more/other.yml": "all:\n  hosts:\n    h1:\n    h2:\n",
    }, ("inventory/hosts.yml", "inventory/more/other.yml")),

    "folder_source": OwnCase({
        "inv/10-hosts.yml": "web:\n  hosts:\n    web1:\n    web2:\n",
        "inv/20-more.ini": "[db]\ndb1 ansible_port=2200\n\n[web:vars]\nfrom_ini=1\n",
        "inv/sub/30-deep.yml": "deep:\n  hosts:\n    deep1:\n",
        "inv/README.md": "not an inventory\n",
        "inv/.hidden.yml": "{broken\n",
        "inv/old.yml~": "{broken\n",
        "inv/group_vars/web.yml": "tier: front\n",
        "inv/group_vars/all/10-base.yml": "base: 1\nansible_user: deploy\n",
        "inv/group_vars/all/20-more.yml": "base: 2\n",
        "inv/host_vars/db1.yml": "ansible_user: postgres\n",
    }, ("inv",), ("web", "deep", "db:web")),

    "host_list": OwnCase({}, ("web1,web2:2222,10.0.0.5,",), ("web*", "ungrouped")),

    "host_list_and_file": OwnCase({"inv.yml": "g:\n  hosts:\n    web1:\n      x: 1\n"},
                                  ("inv.yml", "web1,web3,"), ("ungrouped", "g")),

    "ini_names_group_of_earlier_file": OwnCase({
        "one.yml": "web:\n  hosts:\n    web1:\n",
        "two.ini": "[web:vars]\nfrom_two=yes\n\n[prod:children]\nweb\n\n[prod:vars]\nenv=prod\n",
    }, ("one.yml", "two.ini"), ("prod",)),

    "host_named_like_a_group": OwnCase({"inv.ini": """\
[web]
web1
web2
[other]
web
db
"""}, ("inv.ini",), ("web", "web:db", "other:&web", "other:!web", "web*", "~web$")),

    "subscripts": OwnCase({"inv.yml": """\
web:
  hosts:
    w1:
    w2:
    w3:
    w4:
  children:
    webkids:
      hosts:
        w5:
        w1:
"""}, ("inv.yml",), ("web[0]", "web[-1]", "web[0:2]", "web[1:]", "web[3:]", "web[0:0]",
                     "web[9]", "web[-2]", "w*[1]", "web[1]:web[2]", "web[0],webkids[0]",
                     "!web[0]", "web:&web[1:2]")),

    "regex_anchored_at_start": OwnCase({"inv.ini": """\
[g]
web1.example.com
db1.example.com
example-box
"""}, ("inv.ini",), ("~example", "~web", "~.*example", "~(web|db)1", "~g", "~[wd]",
                     "*.example.com", "*example*", "db?.example.com")),

    "ipv6_hosts": OwnCase({"inv.ini": """\
[v6]
2001:db8::1
[2001:db8::2]:2222
fe80::[a:c]
[v4]
192.0.2.[1:3]
"""}, ("inv.ini",), ("2001:db8::1", "2001:db8::2", "fe80::b", "v6:v4", "192.0.2.*",
                     "192.0.2.[1:2]", "all,!2001:db8::1", "fe80::*,v4"),
        refused_patterns=("fe80::*", "all:!2001:db8::1", "v6:!fe80::a")),

    "retry_file": OwnCase({
        "inv.ini": "[g]\nh1\nh2\nh3\n[other]\nh4\n",
        "failed.retry": "h1\nh3\n\nother\n",
    }, ("inv.ini",), ("@failed.retry", "@failed.retry:!h3", "g:&@failed.retry")),

    "pattern_operators": OwnCase({"inv.ini": """\
[web]
web1
web2
[db]
db1
db2
[prod]
web1
db1
[staging]
web2
db2
[all:children]
web
"""}, ("inv.ini",), ("web:db", "web,db", "web:&prod", "prod:!db", "&prod", "!staging",
                     "web:db:&prod:!db1", "prod:staging:!web*", " web , db ", "w*:d*"),
        refused_patterns=("web:typo", "web,!typo", "prod:!typo")),

    "var_precedence_files": OwnCase({
        "inv.ini": "[top:children]\nmid\n[mid:children]\nlow\n[low]\nh1 hostvar=inv\n"
                   "[top:vars]\nv=top\nw=top\n[mid:vars]\nv=mid\n[all:vars]\nv=all\nz=all\n",
        "group_vars/all/a.yml": "z: all-file\nfile_only: all\n",
        "group_vars/top": "w: top-file\n",
        "group_vars/low.yaml": "v: low-file\n",
        "host_vars/h1.json": '{"hostvar": "file"}\n',
    }, ("inv.ini",)),

    "connections": OwnCase({"inv.yml": """\
all:
  hosts:
    l1: {ansible_connection: local}
    s1: {ansible_connection: smart}
    p1: {ansible_connection: paramiko}
    w1: {ansible_connection: winrm}
    t1: {ansible_host: "{{ lookup('env', 'X') }}"}
    b1: {ansible_port: not-a-port}
"""}, ("inv.yml",), ("l1:s1:p1",)),

    "guide_aliases_and_ports": OwnCase({"inv.ini": """\
jumper ansible_port=5555 ansible_host=192.0.2.50
badwolf.example.com:5309
[targets]
localhost              ansible_connection=local
other1.example.com     ansible_connection=ssh        ansible_user=myuser
other2.example.com     ansible_connection=ssh        ansible_user=myotheruser
"""}, ("inv.ini",), ("jumper", "targets", "localhost")),

    "ini_values_typed": OwnCase({"inv.ini": """\
[g]
h1 a=1 b=1.5 c=True d="quoted words" e='[1, 2]' f=None g={'k':'v'} h=0777 i=x=y
[g:vars]
list=[1, 'two']
text = spaced value # not a comment
"""}, ("inv.ini",)),

    "deep_children_yaml": OwnCase({"inv.yml": """\
all:
  vars: {level: all}
  children:
    one:
      vars: {level: one, only_one: 1}
      children:
        two:
          vars: {level: two}
          children:
            three:
              vars: {level: three}
              hosts:
                deep:
        sibling:
          vars: {level: sibling}
          hosts:
            deep:
            shallow:
"""}, ("inv.yml",), ("one[0]", "one[-1]", "two:sibling", "one:!two")),

    "unsupported_group_key": OwnCase({"inv.yml": "g:\n  hots:\n    h1:\n"},
                                     ("inv.yml",), refused="unknown key 'hots'"),

    "children_naming_undeclared_group": OwnCase({"inv.ini": "[p:children]\nnever\n"},
                                                ("inv.ini",), refused="never declared"),
}
