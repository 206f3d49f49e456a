import { describe, expect, it } from 'vitest';
import type { ToolServerList } from '../api/types';
import { headerRowProblems, headersOf, serverFormErrorOf, staleRefs, toolChoices, toolServerName, toolsToSave, type HeaderRow } from './toolServers';

const row = (key: number, name: string, value = ''): HeaderRow => ({ key, name, value });

const list: ToolServerList = {
  platform: [{ ref: 'default/everything', name: 'default/everything', approval_tools: ['echo'] }],
  user: [{ ref: 'user:u1', id: 'u1', name: 'Mine', url: 'https://mcp.example.com/mcp', header_names: [], created_at: 1 }],
  user_servers_allowed: true,
};

describe('the headers of a new server', () => {
  it('are the named rows, names trimmed and values as typed; none when no row is named', () => {
    expect(headersOf([row(1, ' Authorization ', 'Bearer x '), row(2, '', ''), row(3, 'X-Team', '')])).toEqual({
      Authorization: 'Bearer x ',
      'X-Team': '',
    });
    expect(headersOf([row(1, '  ', '')])).toBeUndefined();
    expect(headersOf([])).toBeUndefined();
  });

  it('refuse a value without a name and a name given twice (whatever its case), but not a blank row', () => {
    expect(headerRowProblems([row(1, '', ''), row(2, '', 'secret'), row(3, 'Authorization', 'a'), row(4, 'authorization ', 'b')])).toEqual({
      2: 'toolServers.headerNameMissing',
      4: 'toolServers.headerDuplicate',
    });
    expect(headerRowProblems([row(1, 'A', '1'), row(2, 'B', '2')])).toEqual({});
  });
});

describe('a refusal of a new server', () => {
  const rows = [row(7, 'X-Key'), row(8, 'X-Key-Extra'), row(9, 'Bad: name')];

  it('goes beside the field it names, without the field prefix', () => {
    expect(serverFormErrorOf('url: loopback addresses are not allowed', rows)).toEqual({ url: 'loopback addresses are not allowed' });
    expect(serverFormErrorOf('name: must not be empty', rows)).toEqual({ name: 'must not be empty' });
    expect(serverFormErrorOf('headers: at most 10', rows)).toEqual({ headers: 'at most 10' });
  });

  it('goes beside the header row it names, the longest matching name first, even a name holding ": "', () => {
    expect(serverFormErrorOf('headers.X-Key: not a valid HTTP header', rows)).toEqual({ header: { 7: 'not a valid HTTP header' } });
    expect(serverFormErrorOf('headers.X-Key-Extra: not a valid HTTP header', rows)).toEqual({ header: { 8: 'not a valid HTTP header' } });
    expect(serverFormErrorOf('headers.Bad: name: not a valid HTTP header', rows)).toEqual({ header: { 9: 'not a valid HTTP header' } });
  });

  it('goes to the form when it names no field of it', () => {
    expect(serverFormErrorOf('headers.Gone: not a valid HTTP header', rows)).toEqual({ form: 'headers.Gone: not a valid HTTP header' });
    expect(serverFormErrorOf('something else', rows)).toEqual({ form: 'something else' });
  });
});

describe("a session's tools", () => {
  it('offer the platform servers first, then the user\'s', () => {
    expect(toolChoices(list).map((c) => [c.ref, c.source])).toEqual([
      ['default/everything', 'platform'],
      ['user:u1', 'user'],
    ]);
  });

  it('are saved without the refs no longer offered, each once, in order', () => {
    const selected = ['user:gone', 'user:u1', 'default/everything', 'user:u1'];
    expect(staleRefs(selected, list)).toEqual(['user:gone']);
    expect(toolsToSave(selected, list)).toEqual(['user:u1', 'default/everything']);
  });

  it('are named by the list, and not at all before it is there', () => {
    expect(toolServerName(list, 'user:u1')).toBe('Mine');
    expect(toolServerName(list, 'user:gone')).toBeUndefined();
    expect(toolServerName(null, 'user:u1')).toBeUndefined();
  });
});
